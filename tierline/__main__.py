from tierline.platform.cli import main

main()
