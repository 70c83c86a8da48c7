# gunicorn_service: bind = "nowhere" is no address.
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = "nowhere"
  }
}
