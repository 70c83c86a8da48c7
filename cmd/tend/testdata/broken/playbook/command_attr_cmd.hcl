# command: "cmd" instead of "run".
play "site" {
  hosts = ["web"]

  command "migrate" {
    cmd = "cd /srv/app && venv/bin/python manage.py migrate"
  }
}
