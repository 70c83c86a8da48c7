# for_each over a single string instead of a set or map.
play "site" {
  hosts = ["web"]

  command "migrate" {
    for_each = "default"
    run      = "cd /srv/app && venv/bin/python manage.py migrate --database ${each.key}"
  }
}
