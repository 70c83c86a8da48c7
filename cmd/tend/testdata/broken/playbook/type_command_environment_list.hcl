# command: environment as a list of "NAME=value" strings instead of a map.
play "site" {
  hosts = ["web"]

  command "collectstatic" {
    run         = "cd /srv/app && venv/bin/python manage.py collectstatic --noinput"
    environment = ["DJANGO_SETTINGS_MODULE=app.settings"]
  }
}
