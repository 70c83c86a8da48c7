# A variable's default does not match its declared type.
variable "workers" {
  type    = number
  default = "two"
}

play "site" {
  hosts = ["web"]
  file "/etc/app/workers" { content = "${var.workers}\n" }
}
