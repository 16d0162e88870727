# Stage 0: compile the numba kernels once (~30 s on a fresh checkout; later
# processes load them from numba's on-disk cache in under a second).


rule compile_kernels:
    message:
        "Compiling the numba kernels into the on-disk cache (first run only)"
    input:
        # recompile when a kernel source changes
        KERNEL_SOURCES,
    output:
        KERNELS,
    params:
        backend=config["actions"]["backend"],
    log:
        "resources/numba/compile_kernels.log",
    benchmark:
        "resources/numba/compile_kernels.tsv"
    conda:
        ENV
    script:
        "../../scripts/compile_kernels.py"
