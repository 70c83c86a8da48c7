# A sensitive value in gunicorn's bind, which lands on its command line.
variable "internal_addr" {
  default   = "10.0.0.5:8000"
  sensitive = true
}

play "site" {
  hosts = ["web"]

  gunicorn_service "staffrota" {
    gunicorn = "/srv/app/venv/bin/gunicorn"
    app      = "rotasystems.wsgi:application"
    bind     = var.internal_addr
  }
}
