from runstrong_sync.cli import main

main()
