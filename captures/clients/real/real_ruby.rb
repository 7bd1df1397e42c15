# A real AWS SDK for Ruby fetching instance credentials (issue 24): `ruby real_ruby.rb v1|v3`
# (Debian ruby-aws-sdk / ruby-aws-sdk-core), inside the test namespaces only
# (tests/clients_real.rs), where 169.254.169.254 is the mock. Prints no credential value.
require 'socket'
names = Socket.getifaddrs.map(&:name)
abort 'refusing to run: not inside an imw- test namespace' if (names & %w[h-imds h-ctr ctr0 imds0]).empty?
ok = if ARGV[0] == 'v1'
       require 'aws-sdk-v1'
       !AWS::Core::CredentialProviders::EC2Provider.new(retries: 0).credentials[:access_key_id].nil?
     else
       require 'aws-sdk-core'
       Aws::InstanceProfileCredentials.new(retries: 0).credentials.access_key_id != nil
     end
puts "#{ARGV[0]}: credentials #{ok ? 'found' : 'missing'}"
exit(ok ? 0 : 1)
