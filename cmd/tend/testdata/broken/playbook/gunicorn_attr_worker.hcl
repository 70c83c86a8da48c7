# gunicorn_service: "worker" instead of "workers".
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = "unix:/run/staffrota.sock"
    worker   = 3
  }
}
