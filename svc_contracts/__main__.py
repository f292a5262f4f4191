from svc_contracts.main import main

main()
