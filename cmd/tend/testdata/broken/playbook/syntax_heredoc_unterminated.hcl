# The heredoc's closing marker is spelt EOF instead of EOT: it never ends.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/conf.d/app.conf" {
    content = <<-EOT
      server {
        listen 80;
      }
    EOF
  }
}
