# Stage 5: the figures, plotting only. One rule per entry of workflow/figures.yaml,
# all running scripts/figure.py, which draws the figure with the plotting
# function registered under the entry's name (oti.figures.registry). Figure
# rules read saved results and never compute: what a figure needs beyond the
# analysis's tables is a rule of its own (the illustrative orbits of Figs 3-4
# here; the truth's vertical force of the vertical-force figure, rule truth_force).

from oti import constants as _K

FIG = f"{RES}/figures"


report: "../report/workflow.rst"


rule illustrative_orbits:
    input:
        fiducial=f"{RES}/actions/fiducial.parquet",
    output:
        orbits=f"{FIG}/data/orbits.parquet",
        meta=f"{FIG}/data/orbits.json",
    log:
        f"{LOGS}/figures/illustrative_orbits.log",
    benchmark:
        f"{BENCH}/figures/illustrative_orbits.tsv"
    conda:
        ENV
    params:
        jz_values=config["figures"]["orbit_jz"],
        mdisk_fs=config["figures"]["mdisk_f"],
        hz=_K.HZ_KPC,
        backend=config["actions"]["backend"],
        t_myr=config["figures"]["orbit_t_myr"],
        dt_myr=config["figures"]["orbit_dt_myr"],
    message:
        "Illustrative orbits (J_z = {params.jz_values} kpc km/s) with equal actions in models f = {params.mdisk_fs}"
    script:
        "../../scripts/illustrative_orbits.py"


for _name, _fig in FIGURE_TABLE.items():
    if not figure_made(_fig):
        continue
    _rep = _fig["report"]

    rule:
        name:
            _fig["rule"]
        input:
            **figure_inputs(_fig),
        output:
            pdf=f"{RES}/{_fig['output']}.pdf",
            png=report(
                f"{RES}/{_fig['output']}.png",
                caption=f"../report/{_fig['caption']}",
                category=_rep["category"],
                subcategory=_rep["subcategory"],
                labels=_rep["labels"],
            ),
        log:
            f"{LOGS}/{_fig['output']}.log",
        benchmark:
            f"{BENCH}/{_fig['output']}.tsv"
        localrule: True
        conda:
            ENV
        params:
            **figure_params(_name, _fig),
        message:
            _fig["message"]
        script:
            "../../scripts/figure.py"
