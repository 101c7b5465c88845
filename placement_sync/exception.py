# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Errors a person can act on. Each carries the whole message to print."""


class SyncError(Exception):
    """placement_sync could not do its job; the message says why."""


class InvalidInventory(SyncError):
    """The cluster facts are wrong; nothing was written."""


class NameClash(SyncError):
    """A name this tool needs belongs to something it did not create."""


class ConfigError(SyncError):
    """The configuration is incomplete or wrong."""


class ServiceUnavailable(SyncError):
    """Placement or nova cannot be reached, or refused our credentials."""
