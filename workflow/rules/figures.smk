# Stage 5: the paper's Figures 1-8 (and the mock recovery figure), plotting only.
# Figure rules read saved results and never recompute actions or fits; the one
# computation they need (the illustrative orbits of Figs 3-4) is its own rule.

from oti import constants as _K

FIG = f"{RES}/figures"
#: disk-mass factors of Fig. 4's panels (and of the orbits solved for)
FIG4_MDISK_F = [0.4, 1.0, 1.6]
#: vertical actions [kpc km/s] of the two illustrative orbits (J_R, L_z: sample medians)
ORBIT_JZ = [2.0, 18.0]
#: the element of Figs 4-6: [O/Fe] as in the paper, else the first available
FIG_ELEMENT = "O_FE" if "O_FE" in ELEMENTS else ELEMENTS[0]
GRID_ELEMENT = "O_FE" if "O_FE" in config["grid"]["elements"] else config["grid"]["elements"][0]


report: "../report/workflow.rst"


localrules:
    fig1,
    fig2,
    fig3,
    fig4,
    fig5,
    fig6,
    fig7,
    fig8,
    fig_recovery,
    fig_valleys,


rule illustrative_orbits:
    message:
        "Illustrative orbits (J_z = {params.jz_values} kpc km/s) with equal actions in models f = {params.mdisk_fs}"
    input:
        fiducial=f"{RES}/actions/fiducial.parquet",
    output:
        orbits=f"{FIG}/data/orbits.parquet",
        meta=f"{FIG}/data/orbits.json",
    params:
        jz_values=ORBIT_JZ,
        mdisk_fs=FIG4_MDISK_F,
        hz=_K.HZ_KPC,
        backend=config["actions"]["backend"],
        t_myr=4000.0,
        dt_myr=1.0,
    log:
        f"{LOGS}/figures/illustrative_orbits.log",
    benchmark:
        f"{BENCH}/figures/illustrative_orbits.tsv"
    conda:
        ENV
    script:
        "../../scripts/illustrative_orbits.py"


rule fig1:
    message:
        "Fig. 1: the sample (abundance plane, x-y, z-v_z)"
    input:
        quality=f"{RES}/quality_sample.parquet",
        parent=f"{RES}/parent_sample.parquet",
        fiducial=f"{RES}/actions/fiducial.parquet",
    output:
        pdf=f"{FIG}/fig1.pdf",
        png=report(f"{FIG}/fig1.png", caption="../report/fig1.rst", category="Figures"),
    params:
        polygon=CUTS["alpha_polygon"],
    log:
        f"{LOGS}/figures/fig1.log",
    benchmark:
        f"{BENCH}/figures/fig1.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig1.py"


rule fig2:
    message:
        "Fig. 2: mean abundances in (z, v_z) boxels"
    input:
        parent=f"{RES}/parent_sample.parquet",
        fiducial=f"{RES}/actions/fiducial.parquet",
    output:
        pdf=f"{FIG}/fig2.pdf",
        png=report(f"{FIG}/fig2.png", caption="../report/fig2.rst", category="Figures"),
    params:
        elements=ELEMENTS,
    log:
        f"{LOGS}/figures/fig2.log",
    benchmark:
        f"{BENCH}/figures/fig2.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig2.py"


rule fig3:
    message:
        "Fig. 3: two illustrative orbits in the fiducial model"
    input:
        orbits=f"{FIG}/data/orbits.parquet",
        meta=f"{FIG}/data/orbits.json",
    output:
        pdf=f"{FIG}/fig3.pdf",
        png=report(f"{FIG}/fig3.png", caption="../report/fig3.rst", category="Figures"),
    log:
        f"{LOGS}/figures/fig3.log",
    benchmark:
        f"{BENCH}/figures/fig3.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig3.py"


rule fig4:
    message:
        "Fig. 4: mean {params.element} map with the orbits of three disk masses"
    input:
        parent=f"{RES}/parent_sample.parquet",
        fiducial=f"{RES}/actions/fiducial.parquet",
        orbits=f"{FIG}/data/orbits.parquet",
    output:
        pdf=f"{FIG}/fig4.pdf",
        png=report(f"{FIG}/fig4.png", caption="../report/fig4.rst", category="Figures"),
    params:
        element=FIG_ELEMENT,
        mdisk_fs=FIG4_MDISK_F,
    log:
        f"{LOGS}/figures/fig4.log",
    benchmark:
        f"{BENCH}/figures/fig4.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig4.py"


rule fig5:
    message:
        "Fig. 5: Delta {params.element} versus theta_z at three disk masses"
    input:
        coeffs=f"{RES}/grid/{GRID_ELEMENT}.parquet",
        binned=f"{RES}/grid/{GRID_ELEMENT}_binned.parquet",
    output:
        pdf=f"{FIG}/fig5.pdf",
        png=report(f"{FIG}/fig5.png", caption="../report/fig5.rst", category="Figures"),
    params:
        element=GRID_ELEMENT,
    log:
        f"{LOGS}/figures/fig5.log",
    benchmark:
        f"{BENCH}/figures/fig5.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig5.py"


rule fig6:
    message:
        "Fig. 6: Fourier coefficients of Delta {params.element} versus disk mass"
    input:
        coeffs=f"{RES}/grid/{GRID_ELEMENT}.parquet",
        crossing=f"{RES}/constraints/grid_crossing.csv",
    output:
        pdf=f"{FIG}/fig6.pdf",
        png=report(f"{FIG}/fig6.png", caption="../report/fig6.rst", category="Figures"),
    params:
        element=GRID_ELEMENT,
    log:
        f"{LOGS}/figures/fig6.log",
    benchmark:
        f"{BENCH}/figures/fig6.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig6.py"


rule fig7:
    message:
        "Fig. 7: (f, h_z) error ellipses per element and joint"
    input:
        unpack(truth_input),
        per_element=f"{RES}/constraints/per_element.csv",
        joint=f"{RES}/constraints/joint.csv",
    output:
        pdf=f"{FIG}/fig7.pdf",
        png=report(f"{FIG}/fig7.png", caption="../report/fig7.rst", category="Figures"),
    params:
        exclude=config["exclude_from_joint"],
    log:
        f"{LOGS}/figures/fig7.log",
    benchmark:
        f"{BENCH}/figures/fig7.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig7.py"


rule fig8:
    message:
        "Fig. 8: all projections of the four-parameter constraints"
    input:
        unpack(truth_input),
        per_element=f"{RES}/constraints/per_element.csv",
        joint=f"{RES}/constraints/joint.csv",
    output:
        pdf=f"{FIG}/fig8.pdf",
        png=report(f"{FIG}/fig8.png", caption="../report/fig8.rst", category="Figures"),
    params:
        exclude=config["exclude_from_joint"],
    log:
        f"{LOGS}/figures/fig8.log",
    benchmark:
        f"{BENCH}/figures/fig8.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig8.py"


rule fig_recovery:
    message:
        "Recovery figure: constraints versus the mock's injected truth"
    input:
        recovery=f"{RES}/recovery.json",
    output:
        pdf=f"{FIG}/recovery.pdf",
        png=report(f"{FIG}/recovery.png", caption="../report/recovery.rst", category="Figures"),
    log:
        f"{LOGS}/figures/recovery.log",
    benchmark:
        f"{BENCH}/figures/recovery.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig_recovery.py"


rule fig_valleys:
    message:
        "Valleys figure: each element's a2 = 0 curve in (f, h_z)"
    input:
        unpack(valley_figure_inputs),
    output:
        pdf=f"{FIG}/valleys.pdf",
        png=report(f"{FIG}/valleys.png", caption="../report/valleys.rst", category="Figures"),
    params:
        elements=ELEMENTS,
    log:
        f"{LOGS}/figures/valleys.log",
    benchmark:
        f"{BENCH}/figures/valleys.tsv"
    conda:
        ENV
    script:
        "../../scripts/fig_valleys.py"
