// Starts an S3-compatible server (@20minutes/s3rver, which checks SigV4 signatures) for the
// S3 tests: node --openssl-legacy-provider s3rver.js PORT DIR
// PORT 0 picks a free port. Prints "listening PORT" once it accepts connections; runs until
// it is killed (by PID, from the test fixture). Credentials: S3RVER / S3RVER.
'use strict';
const S3rver = require('@20minutes/s3rver');

const port = Number(process.argv[2] || 0);
const directory = process.argv[3];
if (!directory) {
  console.error('usage: s3rver.js PORT DIR');
  process.exit(2);
}
new S3rver({address: '127.0.0.1', port, directory, silent: true})
    .run()
    .then((address) => console.log(`listening ${address.port}`))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
