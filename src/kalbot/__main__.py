from kalbot.cli import main

main()
