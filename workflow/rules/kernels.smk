# Stage 0: compile the numba kernels once (~70 s of CPU on a fresh checkout;
# later processes load them from numba's on-disk cache in under a second), one
# job per kernel family (the Staeckel kernels, the neighbour kernels), which
# share no compiled function and run in parallel. The cache directory is keyed
# by the contents of every kernel source (oti.kernel_cache), so an edit to any
# of them starts a fresh cache, which this rule refills.


rule compile_kernels:
    input:
        # recompile when a kernel source changes (oti.kernel_cache.KERNEL_MODULES)
        KERNEL_SOURCES,
    output:
        "resources/numba/compiled-{backend}-{family}.json",
    log:
        "resources/numba/compile_kernels-{backend}-{family}.log",
    benchmark:
        "resources/numba/compile_kernels-{backend}-{family}.tsv"
    wildcard_constraints:
        backend="fast|fast-scalar|galpy",
        family="staeckel|neighbours",
    conda:
        ENV
    message:
        "Compiling the {wildcards.family} kernels ({wildcards.backend}) into the on-disk cache (first run only)"
    script:
        "../../scripts/compile_kernels.py"
