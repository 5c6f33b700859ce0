// Viewer request: the secret origin header, from the distribution's KeyValueStore, replacing
// any a viewer sent. No key yet (or no store) throws, and CloudFront answers 503 instead of
// reaching the API without it (terraform/modules/cdn/main.tf).
import cf from 'cloudfront';

const store = cf.kvs();

async function handler(event) {
  const request = event.request;
  request.headers['${header}'] = { value: await store.get('${key}') };
  return request;
}
