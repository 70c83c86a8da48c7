# each.name does not exist: for_each gives each.key and each.value.
play "site" {
  hosts = ["web"]

  command "migrate" {
    for_each = toset(["default", "reports"])
    run      = "cd /srv/app && venv/bin/python manage.py migrate --database ${each.name}"
  }
}
