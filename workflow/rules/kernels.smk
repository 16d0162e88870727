# Stage 0: compile the numba kernels once (~30 s on a fresh checkout; later
# processes load them from numba's on-disk cache in under a second). The cache
# directory is keyed by the contents of every kernel source (oti.kernel_cache),
# so an edit to any of them starts a fresh cache, which this rule refills.


rule compile_kernels:
    input:
        # recompile when a kernel source changes (oti.kernel_cache.KERNEL_MODULES)
        KERNEL_SOURCES,
    output:
        KERNELS,
    log:
        "resources/numba/compile_kernels.log",
    benchmark:
        "resources/numba/compile_kernels.tsv"
    conda:
        ENV
    params:
        backend=config["actions"]["backend"],
    message:
        "Compiling the numba kernels into the on-disk cache (first run only)"
    script:
        "../../scripts/compile_kernels.py"
