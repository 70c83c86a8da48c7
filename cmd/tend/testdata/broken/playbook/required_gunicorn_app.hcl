# gunicorn_service: the required app is missing.
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    bind     = "unix:/run/staffrota.sock"
  }
}
