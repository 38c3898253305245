from quotatune.cli.app import main

main()
