"""One module per ``flowalerts`` subcommand: ``add_parser(sub)`` and ``main(args, config)``."""
