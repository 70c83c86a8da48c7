# gunicorn_service: bind = 42, a bare port number instead of "HOST:PORT".
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = 42
  }
}
