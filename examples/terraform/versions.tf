terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.25.0" # ECS blue/green, linear and canary: deployment_configuration, advanced_configuration
    }
  }
}
