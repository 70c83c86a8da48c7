# A var file that calls a function tend does not have.
workers = nproc() * 2
