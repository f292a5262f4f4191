from svc_users.main import main

main()
