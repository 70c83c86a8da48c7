# gunicorn_service: timeout = "1 minute"; it takes a number of seconds.
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = "unix:/run/staffrota.sock"
    timeout  = "1 minute"
  }
}
