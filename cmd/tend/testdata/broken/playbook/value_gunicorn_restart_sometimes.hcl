# gunicorn_service: restart = "sometimes" is no systemd Restart= value.
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = "unix:/run/staffrota.sock"
    restart  = "sometimes"
  }
}
