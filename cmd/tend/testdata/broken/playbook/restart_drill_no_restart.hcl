# A restart drill of a unit the play renders with Restart=no: systemd
# would leave it dead after the kill.
play "site" {
  hosts = ["web"]

  restart_drill {
    unit = "staffrota.service"
  }

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "app.wsgi:application"
    bind     = "unix:/run/staffrota.sock"
    restart  = "no"
  }

  health_check "staffrota" {
    unix_socket = "/run/staffrota.sock"
    path        = "/health/"
  }
}
