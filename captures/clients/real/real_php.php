<?php
// A real PHP AWS client fetching instance credentials (issue 24): Debian's php-async-aws-core
// (async-aws/core) InstanceProvider, `php real_php.php`, inside the test namespaces only
// (tests/clients_real.rs), where 169.254.169.254 is the mock. Prints no credential value.
$names = array_keys(net_get_interfaces() ?: []);
if (!array_intersect($names, ['h-imds', 'h-ctr', 'ctr0', 'imds0'])) {
    fwrite(STDERR, "refusing to run: not inside an imw- test namespace\n");
    exit(2);
}
require '/usr/share/php/AsyncAws/Core/autoload.php';
$p = new AsyncAws\Core\Credentials\InstanceProvider(null, null, 1.0);
$c = $p->getCredentials(AsyncAws\Core\Configuration::create([]));
echo 'async-aws/core: credentials ' . ($c ? 'found' : 'missing') . "\n";
exit($c ? 0 : 1);
