# host.vars.gunicorn_workers: the inventory's hosts have no such var (it is "workers").
# Inventory-relative: without -i the host vars are unknown.
play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = "unix:/run/staffrota.sock"
    workers  = host.vars.gunicorn_workers
  }
}
