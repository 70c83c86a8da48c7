# A restart drill in a play without a health check: it could only see a
# process come back, not the service answer.
play "site" {
  hosts = ["web"]

  restart_drill {
    unit = "staffrota.service"
  }

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "app.wsgi:application"
    bind     = "unix:/run/staffrota.sock"
  }
}
