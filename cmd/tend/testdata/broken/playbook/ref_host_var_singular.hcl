# host.var.workers: the host object's attribute is "vars", not "var".
play "site" {
  hosts = ["web"]

  file "/etc/app/workers" {
    content = "${host.var.workers}\n"
  }
}
