from imgaudit.entry import main

main()
