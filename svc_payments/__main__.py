from svc_payments.main import main

main()
