"""The conventions every tickwire command line shares, in one place, and the
``tickwire`` command (:mod:`tickwire.cli.main`).

* :func:`run_cli` (:mod:`tickwire.cli.boundary`): the error boundary, one
  ``PROG: error: ...`` line and the exit statuses (2 usage, 1 failure, 130 interrupted,
  0 when stdout's reader went away), ``--version`` on every parser, help with defaults.
* :mod:`tickwire.cli.args`: the validated argparse types (ports, counts, probabilities,
  stock symbols, an input file that must exist).
* :mod:`tickwire.cli.output`: ``--json [PATH|-]`` and output files written whole or not
  at all.
* :class:`Progress` (:mod:`tickwire.cli.progress`): rich progress bars on stderr, on a
  terminal only.

See ``docs/cli.md``.
"""

from tickwire.cli.args import (
    config_file,
    existing_file,
    int_range,
    ipv4,
    is_iso_date,
    iso_date,
    multicast_ipv4,
    non_negative_float,
    non_negative_int,
    not_a_regular_file,
    output_file,
    output_folder,
    output_folder_of,
    positive_float,
    positive_int,
    probability,
    require_regular_file,
    secret_file,
    stock_symbol,
    stock_symbols,
    tcp_udp_port,
    tcp_udp_port_or_any,
    toml_loads,
    vlan_tci,
)
from tickwire.cli.boundary import (
    DATA_ERRORS,
    HelpFormatter,
    UsageError,
    add_version,
    dist_version,
    input_of,
    invoked_as,
    name_input,
    named,
    one_line,
    parser_of,
    reading,
    run_cli,
    walk,
)
from tickwire.cli.output import (
    add_json_option,
    atomic_open,
    atomic_path,
    json_output,
    json_to_stdout,
    log_first,
    printable,
    remove_stages,
    staged_folder,
    write_json,
)
from tickwire.cli.progress import Progress

__all__ = [
    "DATA_ERRORS",
    "HelpFormatter",
    "Progress",
    "UsageError",
    "add_json_option",
    "add_version",
    "atomic_open",
    "atomic_path",
    "config_file",
    "dist_version",
    "existing_file",
    "input_of",
    "int_range",
    "invoked_as",
    "ipv4",
    "is_iso_date",
    "iso_date",
    "json_output",
    "json_to_stdout",
    "log_first",
    "multicast_ipv4",
    "name_input",
    "named",
    "non_negative_float",
    "non_negative_int",
    "not_a_regular_file",
    "one_line",
    "output_file",
    "output_folder",
    "output_folder_of",
    "parser_of",
    "positive_float",
    "positive_int",
    "printable",
    "probability",
    "reading",
    "remove_stages",
    "require_regular_file",
    "run_cli",
    "secret_file",
    "staged_folder",
    "stock_symbol",
    "stock_symbols",
    "tcp_udp_port",
    "tcp_udp_port_or_any",
    "toml_loads",
    "vlan_tci",
    "walk",
    "write_json",
]
