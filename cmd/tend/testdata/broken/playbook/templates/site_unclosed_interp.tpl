server {
  listen 80;
  location / {
    proxy_pass http://unix:${sock:/;
  }
}
