from svc_jobs.main import main

main()
