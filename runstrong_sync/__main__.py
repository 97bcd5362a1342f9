import gc

gc.disable()  # no collections while the program loads; main() turns them back on for the command

from runstrong_sync.cli import main  # noqa: E402

main()
