-- XEP-0133 "Disable a User" and "Re-Enable a User" for Prosody 0.12.
--
-- Prosody 0.12's mod_admin_adhoc has no disable-user command, and suspending
-- a Montage device must keep its password so that resuming it needs no new
-- credentials on the device. This module adds the two standard XEP-0133
-- commands (nodes http://jabber.org/protocol/admin#disable-user and
-- #reenable-user, field "accountjids"), keeps a "disabled" flag per account in
-- Prosody's own storage, ends the account's sessions when it is disabled, and
-- refuses SASL for a disabled account with the RFC 6120 condition
-- <account-disabled/>. Passwords and the account data are not touched.
--
-- Prosody 0.13 has account disabling built in; drop this module there.

local jid = require "util.jid";
local dataforms_new = require "util.dataforms".new;
local adhoc_simple = require "util.adhoc".new_simple_form;
local usermanager = require "core.usermanager";

module:depends("adhoc");
local adhoc_new = module:require "adhoc".new;

local module_host = module:get_host();
local disabled_store = module:open_store("account_disabled");

local function is_disabled(username)
	return username ~= nil and disabled_store:get(username) ~= nil;
end

local function end_sessions(username, text)
	local user = prosody.hosts[module_host].sessions[username];
	for _, session in pairs(user and user.sessions or {}) do
		session:close({ condition = "not-authorized", text = text });
	end
end

-- SASL: report the account as disabled through the SASL profile's "state"
-- return value, which util.sasl turns into <account-disabled/>. Runs after
-- mod_saslauth (lower priority) has put the session's SASL handler in place.
module:hook("stream-features", function(event)
	local origin = event.origin;
	local handler = origin.sasl_handler;
	if origin.username or not handler or handler.montage_checked then return; end
	handler.montage_checked = true;
	local profile = handler.profile;
	for name, backend in pairs(profile) do
		if type(backend) == "function" and name:match("^scram_") then
			profile[name] = function(sasl, username, ...)
				local stored_key, server_key, iterations, salt, state = backend(sasl, username, ...);
				if stored_key ~= nil and is_disabled(username) then state = false; end
				return stored_key, server_key, iterations, salt, state;
			end
		elseif type(backend) == "function" and name == "plain_test" then
			profile[name] = function(sasl, username, ...)
				local ok, state = backend(sasl, username, ...);
				if is_disabled(username) then state = false; end
				return ok, state;
			end
		end
	end
end, -10);

-- Belt and braces: even if a future SASL mechanism skipped the check above,
-- a disabled account cannot bind a resource, so it cannot exchange stanzas.
module:hook("pre-resource-bind", function(event)
	if is_disabled(event.session.username) then
		event.error = { type = "auth", condition = "not-authorized", text = "Account disabled" };
		return false;
	end
end, 10);

-- A deleted and re-created account starts enabled.
module:hook_global("user-deleted", function(event)
	if event.host == module_host then
		disabled_store:set(event.username, nil);
	end
end);

local function accounts_form(title)
	return dataforms_new{
		title = title;
		{ name = "FORM_TYPE", type = "hidden", value = "http://jabber.org/protocol/admin" };
		{ name = "accountjids", type = "jid-multi", required = true, label = "The Jabber ID(s)" };
	};
end

local function for_each_account(fields, action, done, failed_text)
	local succeeded, failed = {}, {};
	for _, account in ipairs(fields.accountjids) do
		local username, host = jid.split(account);
		if host == module_host and username and usermanager.user_exists(username, host) and action(username) then
			succeeded[#succeeded + 1] = account;
		else
			failed[#failed + 1] = account;
		end
	end
	if #failed > 0 then
		return { status = "completed",
			error = { message = failed_text .. ": " .. table.concat(failed, ", ") } };
	end
	return { status = "completed", info = done .. ": " .. table.concat(succeeded, ", ") };
end

local disable_handler = adhoc_simple(accounts_form("Disabling a User"), function(fields, err, data)
	if err then return { status = "completed", error = { message = "Invalid form" } }; end
	return for_each_account(fields, function(username)
		local ok = disabled_store:set(username, { by = jid.bare(data.from), at = os.time() });
		if not ok then return false; end
		module:log("info", "Account %s@%s disabled by %s", username, module_host, jid.bare(data.from));
		end_sessions(username, "Account disabled");
		return true;
	end, "Disabled", "No such account, or could not disable it");
end);

local reenable_handler = adhoc_simple(accounts_form("Re-Enabling a User"), function(fields, err, data)
	if err then return { status = "completed", error = { message = "Invalid form" } }; end
	return for_each_account(fields, function(username)
		local ok = disabled_store:set(username, nil);
		if ok then
			module:log("info", "Account %s@%s re-enabled by %s", username, module_host, jid.bare(data.from));
		end
		return ok;
	end, "Re-enabled", "No such account, or could not re-enable it");
end);

module:provides("adhoc", adhoc_new("Disable a User",
	"http://jabber.org/protocol/admin#disable-user", disable_handler, "admin"));
module:provides("adhoc", adhoc_new("Re-Enable a User",
	"http://jabber.org/protocol/admin#reenable-user", reenable_handler, "admin"));
