server {
  listen 80;
  server_name {{ server_name }};
  location / {
    proxy_pass http://unix:{{ sock }}:/;
  }
}
