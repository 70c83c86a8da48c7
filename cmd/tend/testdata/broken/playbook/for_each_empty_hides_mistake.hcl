# for_each over an empty set hides a bad bind: no task instance is ever decoded.
variable "extra_apps" { default = [] }

play "site" {
  hosts = ["web"]

  gunicorn_service "extra" {
    for_each = toset(var.extra_apps)
    gunicorn = "/srv/${each.key}/venv/bin/gunicorn"
    app      = "${each.key}.wsgi:application"
    bind     = "localhost"
  }
}
