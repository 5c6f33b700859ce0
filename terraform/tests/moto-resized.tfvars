# scripts/tf-moto.sh, convergence: after the first apply, an ordinary resize (instance class,
# broker size, two functions' memory) is applied on top of moto.tfvars; the plan after it must be
# empty (apply_immediately on RDS and Amazon MQ: no change left pending for a maintenance window).
# The memory change publishes a version 2 of inventory and billing-consumer, which tf-moto's alias
# step moves their live aliases to, as make rollout would.
db_instance_class    = "db.t4g.small"
broker_instance_type = "mq.m5.large"
functions = {
  inventory          = { memory_size = 1024, timeout = 10, reserved_concurrency = 20 }
  "billing-api"      = { memory_size = 512, timeout = 10, reserved_concurrency = 20 }
  "billing-consumer" = { memory_size = 512, timeout = 30, reserved_concurrency = 2 }
  setup              = { memory_size = 256, timeout = 900, reserved_concurrency = 1 }
}
