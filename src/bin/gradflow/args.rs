//! The command-line arguments (clap): the subcommands and the run flags. Each run flag
//! overrides the same field of `--config` / `--example` ([`crate::overlay`]).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gradflow",
    version,
    about = "Gradient flow of deep linear networks as an ODE, with per-step monitors"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
    /// Largest estimated memory of one run (bytes, or with a suffix: 512M, 16G; default 8G).
    /// A run over it is refused before anything is allocated.
    #[arg(long = "max-memory", global = true, value_name = "SIZE")]
    pub(crate) max_memory: Option<String>,
    /// Largest number of rows a --trace dt=X trace may have (t_end/dt; default 10000000).
    #[arg(long = "max-trace-rows", global = true, value_name = "N")]
    pub(crate) max_trace_rows: Option<u64>,
    /// Threads of the matrix products of a run on the main thread (default: all cores when
    /// one gradient costs at least 5e7 multiply-adds, else one). The runs of --jobs workers
    /// use one each unless their configuration sets `threads`.
    /// Results are the same bit for bit for every thread count.
    #[arg(long = "threads", global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Largest number of points of a sweep grid (default 100000).
    #[arg(long = "max-sweep-points", global = true, value_name = "N")]
    pub(crate) max_sweep_points: Option<u64>,
    /// No progress bars. (They are drawn on stderr only when it is a terminal and the
    /// environment variable CI is not set; what the commands print is the same either way.)
    #[arg(long, global = true)]
    pub(crate) quiet: bool,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Integrate a gradient flow and write summary.json, weights/ and (optionally) trace.jsonl
    /// with a manifest.json; the output directory is replaced as a whole. Exit status 0:
    /// completed; 2: usage or input error; 3: stopped early (results written); 4: an output
    /// could not be written (disk full, permissions).
    Run(Box<RunArgs>),
    /// Check claims along a run (`--claims`, `--paper`) or run a scenario suite (`--suite`).
    /// Exit status 0: nothing violated (or every suite case as expected); 1: a claim was
    /// violated (or a suite case mismatched); 2: usage or input error; 3: the run stopped
    /// early; 4: an output could not be written (disk full, permissions).
    Check(Box<CheckArgs>),
    /// Rerun a counterexample report, regenerate it, and compare every number, string and
    /// key of the report bit for bit (exit 0 reproduced; 1 differs: each difference is
    /// listed as a JSON pointer with both values; 2 the report was modified after the run
    /// per its output set's manifest.json, or is no report).
    Replay {
        /// The report (`DIR/counterexamples/<id>.json`).
        report: PathBuf,
    },
    /// Run a sweep (a run configuration over a grid of values × seeds) and judge its sweep
    /// claims (fitted exponents, violation frequencies). Point records go to
    /// `OUT/points/` as points finish; rerunning the same command resumes. Exit status 0:
    /// nothing violated; 1: a sweep claim violated (or not the expected verdict); 2: usage
    /// or input error; 3: some point's run failed or stopped early; 4: an output could not
    /// be written.
    Sweep(SweepArgs),
    /// Search a space of run settings (SPACE.json: a base run and dimensions) for a
    /// confirmed violation of claims, guided by their robustness (cross-entropy method) or
    /// by random sampling; the log OUT/search_log.jsonl resumes an interrupted search.
    /// Exit status 0: no violation within the budget; 1: a violation found (its check output
    /// set under OUT); 2: usage or input error; 4: an output could not be written.
    Search(Box<SearchArgs>),
    /// Generate random hypothesis-satisfying runs from a seed, check each with every claim,
    /// and mutation-test the verdicts (shifted statements, perturbed flows). Prints one line
    /// per run and a summary. Exit status 0: no unexplained violation and every
    /// non-degenerate mutation caught; 1: otherwise (or a run could not be checked); 2: usage
    /// error; 4: the report could not be written.
    Corpus(CorpusArgs),
    /// List the encoded claims (or a claim file's), or print one claim's declaration.
    Claims {
        /// Only this paper (000 … 003).
        #[arg(long)]
        paper: Option<String>,
        /// Print this claim's declaration in the claim language (docs/claims-language.md).
        #[arg(long)]
        show: Option<String>,
        /// List (and type-check) the claims of this claim file instead of the catalog.
        #[arg(long = "claims-file")]
        claims_file: Option<PathBuf>,
    },
    /// Verify an output directory against its manifest.json: every listed file present with
    /// its recorded size and SHA-256 and, for a run, check or corpus set, no other file
    /// (exit 0 verified; 2 a file missing, modified or added, or no manifest).
    Verify {
        /// The output directory (`--out` of run, check, corpus or sweep).
        dir: PathBuf,
    },
    /// Draw the figures of an output: a run or check directory (trajectory from its
    /// trace.jsonl, the claims' slack when the check traced it, each counterexample), a
    /// counterexample report, or a sweep directory (fitted exponents, violation
    /// frequencies). Exit status 0: figures written; 2: usage or input error (nothing to
    /// plot, a malformed trace); 4: a figure could not be written.
    Plot(PlotArgs),
    /// Reproduce a paper's experiment (§4 of its catalog, scaled to minutes on two cores)
    /// as gradient flow with the paper's claims attached: writes OUT/repro.json (every
    /// point's configuration hash, verdicts and measurements, and whether the paper's
    /// finding is reproduced), the figure OUT/repro-<paper>.png and each point's check
    /// output under OUT/points/. Exit status 0: every point ran and no attached claim was
    /// violated (whether each finding matched is printed and recorded, not an error); 1: an
    /// attached claim was violated; 2: usage or input error; 3: a point's run failed or
    /// stopped early; 4: an output could not be written.
    Repro(ReproArgs),
    /// Draw a work-precision diagram: every method over a tolerance ladder, the error of
    /// the final weights against a tight reference run (DOP853) plotted against the work
    /// (gradient-equivalents) and the wall time; writes OUT/wp.json, OUT/wp.svg and
    /// OUT/wp.png. A run that fails or exceeds the budget is recorded and left out of its
    /// line. Exit status 0: written; 2: usage or input error (or no reference run); 4: an
    /// output could not be written.
    Wp(Box<WpArgs>),
    /// List the built-in examples, or print one's configuration.
    Examples {
        /// Print this example's JSON configuration.
        #[arg(long)]
        show: Option<String>,
    },
}

/// Which paper's experiment `gradflow repro` runs, how large, and where its results go.
#[derive(Args)]
pub(crate) struct ReproArgs {
    /// The paper: 000, 001, 002 or 003.
    pub(crate) paper: String,
    /// A few points of the same experiment (seconds instead of minutes).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Points run at once (default: one per core).
    #[arg(long)]
    pub(crate) jobs: Option<usize>,
    /// svg, png or both.
    #[arg(long, default_value = "png")]
    pub(crate) format: String,
    /// Output directory (default runs/repro/<paper>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// What `gradflow plot` draws and where the figures go.
#[derive(Args)]
pub(crate) struct PlotArgs {
    /// A run, check or sweep output directory, or a counterexample report.
    pub(crate) input: PathBuf,
    /// svg, png or both.
    #[arg(long, default_value = "png")]
    pub(crate) format: String,
    /// Output directory (default: INPUT-figures beside the input; for a report in a check
    /// output, beside that output), or a file name for a single figure in one format.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// The configuration, the methods and the tolerance ladder of `gradflow wp`.
#[derive(Args)]
pub(crate) struct WpArgs {
    /// Methods, comma separated: any of dopri5, tsit5, dop853, rock4, radau5, gl2, gl4,
    /// gl6, auto, ode_solvers/dopri5, ode_solvers/dop853.
    #[arg(long, default_value = gradflow::wp::DEFAULT_METHODS)]
    pub(crate) methods: String,
    /// Relative tolerances of the ladder, comma separated (default 1e-3 … 1e-10).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) rtols: Option<String>,
    /// atol = rtol · FACTOR.
    #[arg(long = "atol-factor", default_value_t = gradflow::wp::DEFAULT_ATOL_FACTOR, allow_negative_numbers = true)]
    pub(crate) atol_factor: f64,
    /// Gradient-equivalents (gradients + Hessian-vector products) one run may spend; a run
    /// over it is recorded as work_limit (the reference run may spend 5 times as much).
    #[arg(long = "rhs-budget", default_value_t = gradflow::wp::DEFAULT_RHS_BUDGET)]
    pub(crate) rhs_budget: u64,
    /// The configuration: --example or --config, and any run flag but the method and
    /// tolerances (the output directory defaults to runs/wp/<name>).
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// The sweep file and where its results go.
#[derive(Args)]
pub(crate) struct SweepArgs {
    /// The sweep file (JSON: `run`, `vary`, `claims`).
    pub(crate) spec: PathBuf,
    /// Output directory (default runs/sweeps/<file stem>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) jobs: Option<usize>,
    /// Discard stored point records and rerun every point.
    #[arg(long)]
    pub(crate) fresh: bool,
    /// Run only shard I of N (e.g. 2/8): a fixed 1/N of the grid chosen by the points'
    /// configuration hashes, into OUT with a shard.json; no claim is judged (see --merge).
    #[arg(long, value_name = "I/N", value_parser = clap::value_parser!(gradflow::sweep::Shard))]
    pub(crate) shard: Option<gradflow::sweep::Shard>,
    /// Join the shard output directories DIR… into OUT and judge the sweep claims as an
    /// unsharded run would.
    #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["shard", "fresh", "jobs"])]
    pub(crate) merge: Vec<PathBuf>,
}

/// The claims, the space and the search's budget.
#[derive(Args)]
pub(crate) struct SearchArgs {
    /// Claim ids, comma separated (catalog ids, or the claims of --claims-file).
    #[arg(long)]
    pub(crate) claims: Option<String>,
    /// A claim file (docs/claims-language.md): its claims are searched (all, or those
    /// --claims names).
    #[arg(long = "claims-file")]
    pub(crate) claims_file: Option<PathBuf>,
    /// The space file (JSON: "run" or "example", and "dimensions").
    #[arg(long)]
    pub(crate) space: PathBuf,
    /// Evaluations (checked settings) to spend at most.
    #[arg(long)]
    pub(crate) budget: usize,
    /// Points per generation.
    #[arg(long, default_value_t = 16)]
    pub(crate) population: usize,
    /// cem (cross-entropy method) or random.
    #[arg(long, default_value = "cem")]
    pub(crate) method: String,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub(crate) jobs: Option<usize>,
    /// Go on after the first violation until the budget is spent.
    #[arg(long = "keep-going")]
    pub(crate) keep_going: bool,
    /// Checks to spend shrinking each counterexample (0: keep it as found).
    #[arg(long = "shrink-budget", default_value_t = 100)]
    pub(crate) shrink_budget: usize,
    /// Claim parameters, a JSON object from claim id to its parameters (e.g.
    /// '{"mttvm21.thm1.rate": {"factor": 2.5}}': a deliberately false variant is searched
    /// for like any claim).
    #[arg(long)]
    pub(crate) params: Option<String>,
    /// Output directory: the log, search.json and the counterexamples' check output sets
    /// (default runs/search/<space file stem>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

/// How many corpus runs, from which seed, where the report goes.
#[derive(Args)]
pub(crate) struct CorpusArgs {
    /// Number of runs.
    #[arg(long)]
    pub(crate) runs: usize,
    /// Corpus seed (run i is generated from the seed and i).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub(crate) jobs: Option<usize>,
    /// Write DIR/corpus_report.json and the configurations of flagged runs to DIR/runs/.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Only the baseline check (no shifted statements, no perturbed flows).
    #[arg(long = "no-mutations")]
    pub(crate) no_mutations: bool,
}

/// Claim selection plus the run flags.
#[derive(Args)]
pub(crate) struct CheckArgs {
    /// Claim ids, comma separated, or `all`.
    #[arg(long)]
    pub(crate) claims: Option<String>,
    /// All claims of one paper (000 … 003).
    #[arg(long)]
    pub(crate) paper: Option<String>,
    /// Run every scenario file under this directory instead.
    #[arg(long)]
    pub(crate) suite: Option<PathBuf>,
    /// A claim file (docs/claims-language.md): its claims are checked (all of them, or those
    /// --claims names, which may also name catalog claims).
    #[arg(long = "claims-file")]
    pub(crate) claims_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// Run flags; each overrides the same field of `--config` / `--example`.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// JSON run configuration.
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Built-in example (see `gradflow examples`).
    #[arg(long)]
    pub(crate) example: Option<String>,
    /// Directory with X.npy (n×d) and Y.npy (n×q).
    #[arg(long)]
    pub(crate) data: Option<PathBuf>,
    /// Held-out split of .npy data: a directory with X.npy (m×d) and Y.npy (m×q), the
    /// training data's d and q, preprocessed as the training data are.
    #[arg(long)]
    pub(crate) test: Option<PathBuf>,
    /// Directory with W1.npy … WL.npy (W1 first).
    #[arg(long)]
    pub(crate) init: Option<PathBuf>,
    /// Hidden widths of a deep linear network, comma separated (e.g. 32,32).
    #[arg(long)]
    pub(crate) hidden: Option<String>,
    /// Leaky-ReLU level ε ∈ [0, 1] of the hidden layers (paper 001; the model becomes
    /// `leaky_relu` with the hidden widths of --hidden or of the configuration).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) epsilon: Option<f64>,
    /// Integrate the linear twin and Theorem 5.2's comparison scalars with a leaky-ReLU model.
    #[arg(long)]
    pub(crate) twin: bool,
    /// Loss convention: sum, half_sum, mean or half_mean.
    #[arg(long)]
    pub(crate) loss: Option<String>,
    /// Final time T > 0.
    #[arg(long = "t-end", allow_negative_numbers = true)]
    pub(crate) t_end: Option<f64>,
    /// Integrator: dopri5, tsit5, dop853 (explicit); radau5, gl2, gl4, gl6 (implicit, for
    /// stiff flows; Gauss–Legendre keeps the imbalance to round-off); rock4 (stabilized
    /// explicit) or auto (dopri5, switching to radau5 or rock4 — --auto-stiff — while
    /// stability-limited); or gd
    /// (gradient descent, needs --lr).
    #[arg(long)]
    pub(crate) method: Option<String>,
    /// Stiff method of --method auto: radau5 (default) or rock4.
    #[arg(long = "auto-stiff")]
    pub(crate) auto_stiff: Option<String>,
    /// Learning rate η of --method gd.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) lr: Option<f64>,
    /// Number of gradient-descent steps N of --method gd (sets t_end = N·η).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) steps: Option<u64>,
    /// Record the sharpness λ_max(∇²L) and λ_min by Lanczos every N accepted steps.
    #[arg(long = "sharpness-every", allow_negative_numbers = true)]
    pub(crate) sharpness_every: Option<u64>,
    /// Number of top Hessian eigenvalues the sharpness monitor records (default 1).
    #[arg(long = "sharpness-k", allow_negative_numbers = true)]
    pub(crate) sharpness_k: Option<usize>,
    /// With --method gd: integrate the gradient flow alongside (Radau IIA 5, rtol 1e-10) and
    /// monitor the distance ‖θ_GD(jη) − θ_GF(jη)‖.
    #[arg(long = "gf-reference")]
    pub(crate) gf_reference: bool,
    /// Relative tolerance: one value, or one per layer comma separated.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) rtol: Option<String>,
    /// Absolute tolerance: one value, or one per layer comma separated.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) atol: Option<String>,
    /// Seed of the data and initialisation draws.
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) seed: Option<u64>,
    /// Output directory (default runs/<example or config name>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Stream a JSONL trace: every=N accepted steps, or dt=X on a time grid.
    #[arg(long)]
    pub(crate) trace: Option<String>,
    /// Largest number of trial steps.
    #[arg(long = "max-steps", allow_negative_numbers = true)]
    pub(crate) max_steps: Option<u64>,
    /// Fixed step size H of any method but auto and gd: no error control, no rejections.
    #[arg(long = "fixed-step", allow_negative_numbers = true)]
    pub(crate) fixed_step: Option<f64>,
    /// On detected chattering at a kink: stop (default), fixed_step (fall back to fixed
    /// steps for a while) or ignore.
    #[arg(long = "on-chatter")]
    pub(crate) on_chatter: Option<String>,
    /// Record the first time the loss falls to this value.
    #[arg(long = "loss-threshold", allow_negative_numbers = true)]
    pub(crate) loss_threshold: Option<f64>,
}
