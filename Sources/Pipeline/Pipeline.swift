import Kafka
import Postgres
import Models
