"""loopvec's benchmark suite, results store, presentation, data and command line.

  measure/  workloads, the pytest-benchmark suite and its plugin, interleaved passes, statistics, machine facts
  store/    results files: atomic writes, schema checks, finding runs
  present/  text tables, compare, plots, the Markdown report
  data/     MNIST: IDX files, the book's weights, the experiment, fetch-mnist
  cli/      the `loopvec` command, one module per subcommand
"""
