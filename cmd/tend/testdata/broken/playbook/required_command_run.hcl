# command: only guards, no run.
play "site" {
  hosts = ["web"]

  command "migrate" {
    chdir  = "/srv/app"
    unless = "venv/bin/python manage.py migrate --check"
  }
}
