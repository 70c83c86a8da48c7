# result.stdot: the command's output is result.stdout.
play "site" {
  hosts = ["web"]

  command "migrate" {
    run          = "/srv/app/manage.py migrate"
    changed_when = !strcontains(result.stdot, "No migrations to apply")
  }
}
