# gunicorn_service: app as a file path instead of "module:callable".
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems/wsgi.py"
    bind     = "unix:/run/staffrota.sock"
  }
}
