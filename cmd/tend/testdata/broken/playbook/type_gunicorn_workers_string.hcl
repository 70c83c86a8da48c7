# gunicorn_service: workers = "two", a word instead of a number.
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = "unix:/run/staffrota.sock"
    workers  = "two"
  }
}
