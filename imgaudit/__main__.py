from imgaudit.cli import main

main()
